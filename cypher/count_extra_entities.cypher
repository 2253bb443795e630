// Identifiers of extra types, per type. Parameters: none. Returns: type, n.
MATCH (e:Entity)
RETURN e.type AS type, count(e) AS n
