// The active ring of each given user (ring members). Parameters: $user_ids. Returns: user_id, ring_id.
UNWIND $user_ids AS id
MATCH (m:RingMember {user_id: id})
RETURN m.user_id AS user_id, m.ring_id AS ring_id
