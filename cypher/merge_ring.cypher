// Create or update one ring and replace its member rows (members only while the ring is active).
// Parameters: $ring_id, $created_at, $updated_at, $status, $merged_into, $score, $size, $users (JSON),
// $body (JSON), $members (list of user ids). Returns: nothing.
MERGE (r:Ring {ring_id: $ring_id})
  ON CREATE SET r.created_at = $created_at
SET r.updated_at = $updated_at, r.status = $status, r.merged_into = $merged_into, r.score = $score,
    r.size = $size, r.users = $users, r.body = $body
WITH r
CALL () {
  MATCH (m:RingMember {ring_id: $ring_id})
  DELETE m
}
FOREACH (u IN $members | MERGE (:RingMember {ring_id: $ring_id, user_id: u}))
