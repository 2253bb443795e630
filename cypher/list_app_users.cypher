// Investigator accounts by name. Parameters: none. Returns: name, role, disabled (a locked hash starts with !).
MATCH (a:AppUser)
RETURN a.name AS name, a.role AS role, a.password_hash STARTS WITH '!' AS disabled
ORDER BY a.name
