// search_xapian.cc: written in issue 11 (placeholder).
