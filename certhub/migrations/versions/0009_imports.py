"""licence aggregation: the adapters' import-run journal and the registry's
source records of imported licences

Revision ID: 0009
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('adapters_import_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_key', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('source_kind', sa.String(length=8), nullable=False),
    sa.Column('source_name', sa.String(length=300), nullable=False),
    sa.Column('source_system', sa.String(length=100), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('committed_position', sa.Integer(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_import_runs')),
    sa.UniqueConstraint('run_key', name=op.f('uq_adapters_import_runs_run_key'))
    )
    with op.batch_alter_table('adapters_import_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapters_import_runs_fingerprint'), ['fingerprint'], unique=False)

    op.create_table('registry_imported_licences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('source_system', sa.String(length=100), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('last_run', sa.String(length=64), nullable=False),
    sa.Column('last_row', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['registry_licences.id'], name=op.f('fk_registry_imported_licences_licence_id_registry_licences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_imported_licences')),
    sa.UniqueConstraint('source_key', 'source_system', 'type_code', 'issuer_code', name='uq_registry_imported_licences_source')
    )
    with op.batch_alter_table('registry_imported_licences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_imported_licences_licence_id'), ['licence_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('registry_imported_licences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_imported_licences_licence_id'))

    op.drop_table('registry_imported_licences')
    with op.batch_alter_table('adapters_import_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapters_import_runs_fingerprint'))

    op.drop_table('adapters_import_runs')
