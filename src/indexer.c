/* indexer.c: written in issue 11 (placeholder so the tree builds while it is). */
