// One ring and its history (the investigator's ring page).
// Parameters: $ring_id. Returns: body, status, merged_into, created_at, updated_at, history (list of maps).
MATCH (r:Ring {ring_id: $ring_id})
OPTIONAL MATCH (h:RingHistory {ring_id: $ring_id})
WITH r, h ORDER BY h.id
RETURN r.body AS body, r.status AS status, r.merged_into AS merged_into, r.created_at AS created_at,
       r.updated_at AS updated_at, collect(h {.at, .change, .detail}) AS history
