"""auditlog

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21 09:53:05.538663
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditlog_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auditlog_checkpoints'))
    )
    with op.batch_alter_table('auditlog_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditlog_checkpoints_published_at'), ['published_at'], unique=False)

    op.create_table('auditlog_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=32), nullable=True),
    sa.Column('matter_code', sa.String(length=64), nullable=True),
    sa.Column('basis', sa.String(length=80), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('entry', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auditlog_entries')),
    sa.UniqueConstraint('leaf_index', name=op.f('uq_auditlog_entries_leaf_index'))
    )
    with op.batch_alter_table('auditlog_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditlog_entries_basis'), ['basis'], unique=False)
        batch_op.create_index('ix_auditlog_entries_dept_time', ['department_code', 'recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditlog_entries_matter_code'), ['matter_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditlog_entries_operator_id'), ['operator_id'], unique=False)
        batch_op.create_index('ix_auditlog_entries_pending', ['leaf_index', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditlog_entries_recorded_at'), ['recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditlog_entries_subject_code'), ['subject_code'], unique=False)

    op.create_table('auditlog_signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('verifier_key', sa.String(length=512), nullable=False),
    sa.Column('encrypted_seed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auditlog_signing_keys')),
    sa.UniqueConstraint('name', name=op.f('uq_auditlog_signing_keys_name'))
    )
    op.create_table('auditlog_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auditlog_state'))
    )
    # The single row every append locks: the empty tree (RFC 9162 §2.1.1: SHA-256 of "").
    state = sa.table(
        'auditlog_state',
        sa.column('id', sa.Integer()), sa.column('size', sa.BigInteger()), sa.column('root_hash', sa.LargeBinary()),
        sa.column('generation', sa.BigInteger()), sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    op.bulk_insert(state, [{
        'id': 1, 'size': 0, 'generation': 0, 'updated_at': datetime.now(timezone.utc),
        'root_hash': bytes.fromhex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    }])
    op.create_table('auditlog_tiles',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tile_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('level', 'tile_index', name=op.f('pk_auditlog_tiles'))
    )


def downgrade() -> None:
    op.drop_table('auditlog_tiles')
    op.drop_table('auditlog_state')
    op.drop_table('auditlog_signing_keys')
    with op.batch_alter_table('auditlog_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditlog_entries_subject_code'))
        batch_op.drop_index(batch_op.f('ix_auditlog_entries_recorded_at'))
        batch_op.drop_index('ix_auditlog_entries_pending')
        batch_op.drop_index(batch_op.f('ix_auditlog_entries_operator_id'))
        batch_op.drop_index(batch_op.f('ix_auditlog_entries_matter_code'))
        batch_op.drop_index('ix_auditlog_entries_dept_time')
        batch_op.drop_index(batch_op.f('ix_auditlog_entries_basis'))

    op.drop_table('auditlog_entries')
    with op.batch_alter_table('auditlog_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditlog_checkpoints_published_at'))

    op.drop_table('auditlog_checkpoints')
