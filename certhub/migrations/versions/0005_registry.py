"""registry

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-21 09:52:44.824466
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_serial_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_serial_counters')),
    sa.UniqueConstraint('type_code', 'issuer_code', name=op.f('uq_registry_serial_counters_type_code_issuer_code'))
    )
    op.create_table('registry_status_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('next_index', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('kid', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('private_key_envelope', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_status_lists'))
    )
    op.create_table('registry_licences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('base_identifier', sa.String(length=100), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('type_version', sa.Integer(), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('serial', sa.String(length=30), nullable=False),
    sa.Column('holder_name', sa.String(length=200), nullable=False),
    sa.Column('holder_code', sa.String(length=18), nullable=False),
    sa.Column('holder_code_type', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('status_list_id', sa.Integer(), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['status_list_id'], ['registry_status_lists.id'], name=op.f('fk_registry_licences_status_list_id_registry_status_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_licences')),
    sa.UniqueConstraint('base_identifier', name=op.f('uq_registry_licences_base_identifier')),
    sa.UniqueConstraint('status_list_id', 'status_index', name=op.f('uq_registry_licences_status_list_id_status_index')),
    sa.UniqueConstraint('type_code', 'issuer_code', 'serial', name=op.f('uq_registry_licences_type_code_issuer_code_serial'))
    )
    with op.batch_alter_table('registry_licences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_licences_holder_code'), ['holder_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_licences_issuer_code'), ['issuer_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_licences_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_licences_type_code'), ['type_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_licences_valid_until'), ['valid_until'], unique=False)

    op.create_table('registry_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['registry_licences.id'], name=op.f('fk_registry_idempotency_keys_licence_id_registry_licences')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_idempotency_keys')),
    sa.UniqueConstraint('department_code', 'key', name=op.f('uq_registry_idempotency_keys_department_code_key'))
    )
    op.create_table('registry_licence_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=18), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['registry_licences.id'], name=op.f('fk_registry_licence_copies_licence_id_registry_licences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_licence_copies'))
    )
    with op.batch_alter_table('registry_licence_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_licence_copies_licence_id'), ['licence_id'], unique=False)

    op.create_table('registry_licence_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('acting_department_code', sa.String(length=18), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('operator', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['registry_licences.id'], name=op.f('fk_registry_licence_events_licence_id_registry_licences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_licence_events'))
    )
    with op.batch_alter_table('registry_licence_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_licence_events_licence_id'), ['licence_id'], unique=False)

    op.create_table('registry_licence_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=110), nullable=False),
    sa.Column('face', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('record', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('es_id', sa.String(length=64), nullable=False),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['registry_licences.id'], name=op.f('fk_registry_licence_versions_licence_id_registry_licences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_licence_versions')),
    sa.UniqueConstraint('identifier', name=op.f('uq_registry_licence_versions_identifier')),
    sa.UniqueConstraint('licence_id', 'version', name=op.f('uq_registry_licence_versions_licence_id_version'))
    )


def downgrade() -> None:
    op.drop_table('registry_licence_versions')
    with op.batch_alter_table('registry_licence_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_licence_events_licence_id'))

    op.drop_table('registry_licence_events')
    with op.batch_alter_table('registry_licence_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_licence_copies_licence_id'))

    op.drop_table('registry_licence_copies')
    op.drop_table('registry_idempotency_keys')
    with op.batch_alter_table('registry_licences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_licences_valid_until'))
        batch_op.drop_index(batch_op.f('ix_registry_licences_type_code'))
        batch_op.drop_index(batch_op.f('ix_registry_licences_status'))
        batch_op.drop_index(batch_op.f('ix_registry_licences_issuer_code'))
        batch_op.drop_index(batch_op.f('ix_registry_licences_holder_code'))

    op.drop_table('registry_licences')
    op.drop_table('registry_status_lists')
    op.drop_table('registry_serial_counters')
