"""Data a run reads: caches, checked downloads, a domain's codecs and known sensor noise."""
