"""Electronic seal structures (GB/T 38540-2020, GM/T 0031-2014) and their certificates."""
