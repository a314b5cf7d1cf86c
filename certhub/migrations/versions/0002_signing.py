"""signing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:49:02.091155
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_seal_makers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('certificate', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_seal_makers'))
    )
    op.create_table('signing_trust_list_issuances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registry_id', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_json', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_trust_list_issuances')),
    sa.UniqueConstraint('registry_id', 'sequence', name=op.f('uq_signing_trust_list_issuances_registry_id_sequence'))
    )
    op.create_table('signing_seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('es_id', sa.String(length=64), nullable=False),
    sa.Column('seal_type', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner_department_code', sa.String(length=18), nullable=False),
    sa.Column('licence_type_codes', sa.JSON(), nullable=False),
    sa.Column('picture_png', sa.LargeBinary(), nullable=False),
    sa.Column('picture_width_mm', sa.Integer(), nullable=False),
    sa.Column('picture_height_mm', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('maker_id', sa.Integer(), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('compromised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['maker_id'], ['signing_seal_makers.id'], name=op.f('fk_signing_seals_maker_id_signing_seal_makers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_seals')),
    sa.UniqueConstraint('es_id', name=op.f('uq_signing_seals_es_id'))
    )
    with op.batch_alter_table('signing_seals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_seals_owner_department_code'), ['owner_department_code'], unique=False)

    op.create_table('signing_cross_level_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('grantee_department_code', sa.String(length=18), nullable=False),
    sa.Column('licence_type_codes', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['seal_id'], ['signing_seals.id'], name=op.f('fk_signing_cross_level_authorizations_seal_id_signing_seals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_cross_level_authorizations'))
    )
    with op.batch_alter_table('signing_cross_level_authorizations', schema=None) as batch_op:
        batch_op.create_index('ix_signing_cross_level_authorizations_grantee', ['grantee_department_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_cross_level_authorizations_seal_id'), ['seal_id'], unique=False)

    op.create_table('signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=16), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('encrypted_private_key', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=True),
    sa.Column('maker_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('compromised_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['maker_id'], ['signing_seal_makers.id'], name=op.f('fk_signing_keys_maker_id_signing_seal_makers')),
    sa.ForeignKeyConstraint(['seal_id'], ['signing_seals.id'], name=op.f('fk_signing_keys_seal_id_signing_seals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys')),
    sa.UniqueConstraint('public_key', name=op.f('uq_signing_keys_public_key'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_kid'), ['kid'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_keys_maker_id'), ['maker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_keys_seal_id'), ['seal_id'], unique=False)

    op.create_table('signing_seal_suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['seal_id'], ['signing_seals.id'], name=op.f('fk_signing_seal_suspensions_seal_id_signing_seals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_seal_suspensions'))
    )
    with op.batch_alter_table('signing_seal_suspensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_seal_suspensions_seal_id'), ['seal_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signing_seal_suspensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_seal_suspensions_seal_id'))

    op.drop_table('signing_seal_suspensions')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_seal_id'))
        batch_op.drop_index(batch_op.f('ix_signing_keys_maker_id'))
        batch_op.drop_index(batch_op.f('ix_signing_keys_kid'))

    op.drop_table('signing_keys')
    with op.batch_alter_table('signing_cross_level_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_cross_level_authorizations_seal_id'))
        batch_op.drop_index('ix_signing_cross_level_authorizations_grantee')

    op.drop_table('signing_cross_level_authorizations')
    with op.batch_alter_table('signing_seals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_seals_owner_department_code'))

    op.drop_table('signing_seals')
    op.drop_table('signing_trust_list_issuances')
    op.drop_table('signing_seal_makers')
