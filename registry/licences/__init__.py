"""The licences' HTTP API: issue, read, lifecycle, disputes, status lists."""
