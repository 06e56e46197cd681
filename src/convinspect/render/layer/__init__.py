"""The layer report, in each of its formats (table, Markdown, plain), with the story and diagrams they share."""
