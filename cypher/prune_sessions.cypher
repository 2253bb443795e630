// Delete expired sessions: started before $created_before or idle since before $seen_before.
// Parameters: $created_before, $seen_before. Returns: n (how many were deleted).
OPTIONAL MATCH (s:Session)
WHERE s.created_at < $created_before OR s.last_seen < $seen_before
DELETE s
RETURN count(s) AS n
