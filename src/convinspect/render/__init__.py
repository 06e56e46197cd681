"""Results -> text. Renderers only arrange words; every number comes from the result."""
