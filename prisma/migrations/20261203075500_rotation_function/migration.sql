-- The hot path of RefreshTokens as one function (issue 19). As one
-- statement sent by the client it was planned again on every call, and
-- planning cost PostgreSQL more than running it (named prepared statements
-- halve that, but break behind a transaction pooler, so they are a setting).
-- PL/pgSQL keeps each statement's plan for the connection's life, pooler or
-- not. It locks the presented token, and only when the token is live,
-- current, unexpired and the caller's, spends it, inserts the successor and
-- records the session's activity. Whatever it refuses it leaves untouched
-- and locked: the service decides why, in the same transaction.
-- p_timeout: the caller's remaining time in ms; the lock waited for below and
-- every later statement of the transaction stop at it.
CREATE FUNCTION "rotate_refresh_token_if_live"(
  p_hash bytea, p_caller text, p_client bytea, p_expected_user text, p_expected_org text,
  p_successor_id uuid, p_successor_hash bytea, p_ip text, p_switch boolean, p_org text, p_timeout text
) RETURNS TABLE (
  o_id uuid, o_session_id uuid, o_token_version bigint, o_global_version bigint, o_expires_at timestamptz,
  o_rotated_at timestamptz, o_rotated_by text, o_rotated_client bytea, o_replay_count integer, o_revoked_at timestamptz,
  o_user_id text, o_session_created_by text, o_session_active_org_id text, o_session_expires_at timestamptz,
  o_session_revoked_at timestamptz, o_refresh_ttl_seconds integer, o_current_token_version bigint,
  o_current_global_version bigint, o_transaction_started_at timestamptz, o_successor_expires_at timestamptz, o_session jsonb
) LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  IF p_timeout IS NOT NULL THEN
    PERFORM set_config('lock_timeout', p_timeout, true), set_config('statement_timeout', p_timeout, true);
  END IF;
  SELECT rt.id, rt.session_id, rt.token_version, rt.global_version, rt.expires_at, rt.rotated_at, rt.rotated_by,
         rt.rotated_client, rt.replay_count, rt.revoked_at, s.user_id, s.created_by, s.active_org_id,
         s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, s.refresh_ttl_seconds,
         u.token_version AS current_token_version, g.global_version AS current_global_version, now() AS started
    INTO t
    FROM refresh_tokens rt
    JOIN sessions s ON s.id = rt.session_id
    JOIN users u ON u.user_id = s.user_id
    JOIN global_state g ON g.id = 1
   WHERE rt.token_hash = p_hash
     FOR UPDATE OF rt;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  o_id := t.id; o_session_id := t.session_id; o_token_version := t.token_version; o_global_version := t.global_version;
  o_expires_at := t.expires_at; o_rotated_at := t.rotated_at; o_rotated_by := t.rotated_by; o_rotated_client := t.rotated_client;
  o_replay_count := t.replay_count; o_revoked_at := t.revoked_at; o_user_id := t.user_id; o_session_created_by := t.created_by;
  o_session_active_org_id := t.active_org_id; o_session_expires_at := t.session_expires_at;
  o_session_revoked_at := t.session_revoked_at; o_refresh_ttl_seconds := t.refresh_ttl_seconds;
  o_current_token_version := t.current_token_version; o_current_global_version := t.current_global_version;
  o_transaction_started_at := t.started;
  IF t.rotated_at IS NULL AND t.revoked_at IS NULL AND t.session_revoked_at IS NULL AND t.created_by = p_caller
     AND (p_expected_user IS NULL OR t.user_id = p_expected_user)
     AND (p_expected_org IS NULL OR t.active_org_id = p_expected_org)
     AND t.token_version >= t.current_token_version AND t.global_version >= t.current_global_version
     AND t.expires_at > t.started AND t.session_expires_at > t.started THEN
    -- clock_timestamp(): a caller whose transaction began before this commit was racing it (ADR 013).
    UPDATE refresh_tokens SET rotated_at = clock_timestamp(), rotated_by = p_caller, rotated_client = p_client WHERE id = t.id;
    INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
    VALUES (p_successor_id, t.session_id, t.id, p_successor_hash, t.token_version, t.global_version, now(),
            LEAST(now() + make_interval(secs => t.refresh_ttl_seconds), t.session_expires_at))
    RETURNING expires_at INTO o_successor_expires_at;
    -- Versions as text: a restore fence's global version is a Unix time, and JSON numbers are doubles.
    -- active_org_id is written only when switching: writing it fires the trigger that remembers organisations.
    IF p_switch THEN
      UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE(p_ip, s.last_ip_address), active_org_id = p_org
       WHERE s.id = t.session_id
      RETURNING to_jsonb(s) || jsonb_build_object('token_version', s.token_version::text, 'global_version', s.global_version::text) INTO o_session;
    ELSE
      UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE(p_ip, s.last_ip_address)
       WHERE s.id = t.session_id
      RETURNING to_jsonb(s) || jsonb_build_object('token_version', s.token_version::text, 'global_version', s.global_version::text) INTO o_session;
    END IF;
  END IF;
  RETURN NEXT;
END;
$$;
