"""catalog

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 09:42:11.060827
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=18), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['catalog_departments.code'], name=op.f('fk_catalog_departments_parent_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_departments_code'))
    )
    with op.batch_alter_table('catalog_departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_departments_region_code'), ['region_code'], unique=False)

    op.create_table('catalog_licence_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=21), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder_kind', sa.String(length=20), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('validity', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('dependents', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('layout_template', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_licence_types')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_catalog_licence_types_code_version'))
    )
    with op.batch_alter_table('catalog_licence_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_licence_types_code'), ['code'], unique=False)

    op.create_table('catalog_api_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['catalog_departments.code'], name=op.f('fk_catalog_api_clients_department_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_api_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_catalog_api_clients_client_id'))
    )
    op.create_table('catalog_data_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider_code', sa.String(length=18), nullable=False),
    sa.Column('abstract', sa.Text(), nullable=False),
    sa.Column('subject_kind', sa.String(length=20), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('sharing_attribute', sa.String(length=20), nullable=False),
    sa.Column('sharing_conditions', sa.Text(), nullable=True),
    sa.Column('not_shared_reason', sa.Text(), nullable=True),
    sa.Column('open_attribute', sa.String(length=20), nullable=False),
    sa.Column('update_cycle', sa.String(length=20), nullable=False),
    sa.Column('adapter_kind', sa.String(length=20), nullable=True),
    sa.Column('adapter_name', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_code'], ['catalog_departments.code'], name=op.f('fk_catalog_data_items_provider_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_data_items')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_data_items_code'))
    )
    op.create_table('catalog_licence_type_issuers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['catalog_departments.code'], name=op.f('fk_catalog_licence_type_issuers_department_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_licence_type_issuers')),
    sa.UniqueConstraint('type_code', 'department_code', name=op.f('uq_catalog_licence_type_issuers_type_code_department_code'))
    )
    with op.batch_alter_table('catalog_licence_type_issuers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_licence_type_issuers_type_code'), ['type_code'], unique=False)

    op.create_table('catalog_matters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(length=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['catalog_departments.code'], name=op.f('fk_catalog_matters_department_code_catalog_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_matters')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_matters_code'))
    )
    op.create_table('catalog_materials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('satisfied_kind', sa.String(length=20), nullable=False),
    sa.Column('satisfied_code', sa.String(length=40), nullable=True),
    sa.Column('commitment_template', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['matter_id'], ['catalog_matters.id'], name=op.f('fk_catalog_materials_matter_id_catalog_matters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_materials')),
    sa.UniqueConstraint('matter_id', 'key', name=op.f('uq_catalog_materials_matter_id_key'))
    )
    op.create_table('catalog_situations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('material_keys', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['matter_id'], ['catalog_matters.id'], name=op.f('fk_catalog_situations_matter_id_catalog_matters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_situations')),
    sa.UniqueConstraint('matter_id', 'key', name=op.f('uq_catalog_situations_matter_id_key'))
    )


def downgrade() -> None:
    op.drop_table('catalog_situations')
    op.drop_table('catalog_materials')
    op.drop_table('catalog_matters')
    with op.batch_alter_table('catalog_licence_type_issuers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_licence_type_issuers_type_code'))

    op.drop_table('catalog_licence_type_issuers')
    op.drop_table('catalog_data_items')
    op.drop_table('catalog_api_clients')
    with op.batch_alter_table('catalog_licence_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_licence_types_code'))

    op.drop_table('catalog_licence_types')
    with op.batch_alter_table('catalog_departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_departments_region_code'))

    op.drop_table('catalog_departments')
