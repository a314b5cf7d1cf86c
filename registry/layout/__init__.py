"""Layout documents (版式文件): the licence face as PNG and PDF."""
