"""Data return (数据回流): region-sliced deliveries under approved tickets."""
