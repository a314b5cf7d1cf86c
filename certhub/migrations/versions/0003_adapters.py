"""adapters

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 09:47:06.595002
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('adapters_federated_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_federated_documents')),
    sa.UniqueConstraint('source', name=op.f('uq_adapters_federated_documents_source'))
    )
    op.create_table('adapters_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_key', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_webhook_deliveries')),
    sa.UniqueConstraint('event_id', 'subscriber_key', name=op.f('uq_adapters_webhook_deliveries_event_id_subscriber_key'))
    )
    with op.batch_alter_table('adapters_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_adapters_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('adapters_return_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_code', sa.String(length=40), nullable=False),
    sa.Column('requester_code', sa.String(length=18), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('provider_code', sa.String(length=18), nullable=False),
    sa.Column('bureau_code', sa.String(length=18), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('target_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('provider_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bureau_note', sa.Text(), nullable=True),
    sa.Column('bureau_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bureau_code'], ['catalog_departments.code'], name=op.f('fk_adapters_return_tickets_bureau_code_catalog_departments')),
    sa.ForeignKeyConstraint(['dataset_code'], ['catalog_data_items.code'], name=op.f('fk_adapters_return_tickets_dataset_code_catalog_data_items')),
    sa.ForeignKeyConstraint(['provider_code'], ['catalog_departments.code'], name=op.f('fk_adapters_return_tickets_provider_code_catalog_departments')),
    sa.ForeignKeyConstraint(['requester_code'], ['catalog_departments.code'], name=op.f('fk_adapters_return_tickets_requester_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_return_tickets'))
    )
    with op.batch_alter_table('adapters_return_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapters_return_tickets_dataset_code'), ['dataset_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_adapters_return_tickets_provider_code'), ['provider_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_adapters_return_tickets_requester_code'), ['requester_code'], unique=False)

    op.create_table('adapters_return_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('rows_sent', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=71), nullable=False),
    sa.Column('watermark', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['adapters_return_tickets.id'], name=op.f('fk_adapters_return_deliveries_ticket_id_adapters_return_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_return_deliveries')),
    sa.UniqueConstraint('ticket_id', 'sequence', name=op.f('uq_adapters_return_deliveries_ticket_id_sequence'))
    )
    with op.batch_alter_table('adapters_return_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapters_return_deliveries_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('adapters_return_row_hashes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('row_key', sa.String(length=200), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['adapters_return_tickets.id'], name=op.f('fk_adapters_return_row_hashes_ticket_id_adapters_return_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters_return_row_hashes')),
    sa.UniqueConstraint('ticket_id', 'row_key', name=op.f('uq_adapters_return_row_hashes_ticket_id_row_key'))
    )


def downgrade() -> None:
    op.drop_table('adapters_return_row_hashes')
    with op.batch_alter_table('adapters_return_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapters_return_deliveries_ticket_id'))

    op.drop_table('adapters_return_deliveries')
    with op.batch_alter_table('adapters_return_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapters_return_tickets_requester_code'))
        batch_op.drop_index(batch_op.f('ix_adapters_return_tickets_provider_code'))
        batch_op.drop_index(batch_op.f('ix_adapters_return_tickets_dataset_code'))

    op.drop_table('adapters_return_tickets')
    with op.batch_alter_table('adapters_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_adapters_webhook_deliveries_due')

    op.drop_table('adapters_webhook_deliveries')
    op.drop_table('adapters_federated_documents')
