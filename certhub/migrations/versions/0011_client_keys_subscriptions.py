"""client keys (private_key_jwt), assertion replay records, push subscriptions

Revision ID: 0011
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_client_assertion_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('jti_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_client_assertion_uses')),
    sa.UniqueConstraint('client_id', 'jti_hash', name=op.f('uq_catalog_client_assertion_uses_client_id_jti_hash'))
    )
    with op.batch_alter_table('catalog_client_assertion_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_client_assertion_uses_expires_at'), ['expires_at'], unique=False)

    op.create_table('exchange_dispatch_cursors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=False),
    sa.Column('gaps', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_dispatch_cursors')),
    sa.UniqueConstraint('name', name=op.f('uq_exchange_dispatch_cursors_name'))
    )
    op.create_table('exchange_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('callback_url', sa.String(length=2000), nullable=False),
    sa.Column('event_kinds', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('licence_type_codes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('secret_salt', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['catalog_departments.code'], name=op.f('fk_exchange_subscriptions_department_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_subscriptions'))
    )
    with op.batch_alter_table('exchange_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_subscriptions_department_code'), ['department_code'], unique=False)

    op.create_table('catalog_api_client_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=10), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('thumbprint', sa.String(length=43), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=200), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['catalog_api_clients.client_id'], name=op.f('fk_catalog_api_client_keys_client_id_catalog_api_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_api_client_keys')),
    sa.UniqueConstraint('client_id', 'kid', name=op.f('uq_catalog_api_client_keys_client_id_kid')),
    sa.UniqueConstraint('client_id', 'thumbprint', name=op.f('uq_catalog_api_client_keys_client_id_thumbprint'))
    )
    with op.batch_alter_table('catalog_api_client_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_api_client_keys_client_id'), ['client_id'], unique=False)

    with op.batch_alter_table('catalog_api_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_method', sa.String(length=20), server_default='client_secret', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('catalog_api_clients', schema=None) as batch_op:
        batch_op.drop_column('auth_method')

    with op.batch_alter_table('catalog_api_client_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_api_client_keys_client_id'))

    op.drop_table('catalog_api_client_keys')
    with op.batch_alter_table('exchange_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_subscriptions_department_code'))

    op.drop_table('exchange_subscriptions')
    op.drop_table('exchange_dispatch_cursors')
    with op.batch_alter_table('catalog_client_assertion_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_client_assertion_uses_expires_at'))

    op.drop_table('catalog_client_assertion_uses')
