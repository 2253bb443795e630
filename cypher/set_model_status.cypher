// Change one model's status; promoting retires the promoted one. Parameters: $version, $status.
// Returns: found (bool).
OPTIONAL MATCH (m:Model {version: $version})
CALL (m) {
  MATCH (p:Model {status: 'promoted'})
  WHERE m IS NOT NULL AND $status = 'promoted'
  SET p.status = 'retired'
}
FOREACH (x IN CASE WHEN m IS NULL THEN [] ELSE [m] END | SET x.status = $status)
RETURN m IS NOT NULL AS found
