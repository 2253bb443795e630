// Schema: uniqueness constraints per node label and the indexes the store's reads use.
// Parameters: none. Returns: nothing. A script of DDL statements separated by ';' (each IF NOT EXISTS,
// so running it again is harmless); the only file here holding more than one statement.
CREATE CONSTRAINT gf_user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_card_id IF NOT EXISTS FOR (n:Card) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_device_id IF NOT EXISTS FOR (n:Device) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_ip_id IF NOT EXISTS FOR (n:IP) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_merchant_id IF NOT EXISTS FOR (n:Merchant) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_entity_type_id IF NOT EXISTS FOR (n:Entity) REQUIRE (n.type, n.id) IS UNIQUE;
CREATE CONSTRAINT gf_transaction_id IF NOT EXISTS FOR (n:Transaction) REQUIRE n.transaction_id IS UNIQUE;
CREATE CONSTRAINT gf_meta_key IF NOT EXISTS FOR (n:Meta) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT gf_decision_tx IF NOT EXISTS FOR (n:Decision) REQUIRE n.transaction_id IS UNIQUE;
CREATE CONSTRAINT gf_model_version IF NOT EXISTS FOR (n:Model) REQUIRE n.version IS UNIQUE;
CREATE CONSTRAINT gf_ring_id IF NOT EXISTS FOR (n:Ring) REQUIRE n.ring_id IS UNIQUE;
CREATE CONSTRAINT gf_app_user_name IF NOT EXISTS FOR (n:AppUser) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT gf_api_key_hash IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.key_hash IS UNIQUE;
CREATE CONSTRAINT gf_case_id IF NOT EXISTS FOR (n:Case) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT gf_session_id IF NOT EXISTS FOR (n:Session) REQUIRE n.sid_hash IS UNIQUE;
CREATE INDEX gf_transaction_seq IF NOT EXISTS FOR (n:Transaction) ON (n.seq);
CREATE INDEX gf_transaction_counterparty IF NOT EXISTS FOR (n:Transaction) ON (n.counterparty_id);
CREATE INDEX gf_label_seq IF NOT EXISTS FOR (n:Label) ON (n.seq);
CREATE INDEX gf_label_subject IF NOT EXISTS FOR (n:Label) ON (n.subject, n.subject_id);
CREATE INDEX gf_event_seq IF NOT EXISTS FOR (n:Event) ON (n.seq);
CREATE INDEX gf_ring_member_user IF NOT EXISTS FOR (n:RingMember) ON (n.user_id);
CREATE INDEX gf_ring_member_ring IF NOT EXISTS FOR (n:RingMember) ON (n.ring_id);
CREATE INDEX gf_ring_history_ring IF NOT EXISTS FOR (n:RingHistory) ON (n.ring_id);
CREATE INDEX gf_api_key_name IF NOT EXISTS FOR (n:ApiKey) ON (n.name);
CREATE INDEX gf_audit_target IF NOT EXISTS FOR (n:Audit) ON (n.target);
CREATE INDEX gf_note_case IF NOT EXISTS FOR (n:Note) ON (n.case_id);
CREATE INDEX gf_session_user IF NOT EXISTS FOR (n:Session) ON (n.user);
CREATE INDEX gf_throttle_key IF NOT EXISTS FOR (n:Throttle) ON (n.key);
CREATE INDEX gf_throttle_at IF NOT EXISTS FOR (n:Throttle) ON (n.at)
