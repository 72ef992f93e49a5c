-- One send decision for a fleet: qconnect_async._sharedbucket.SharedBucket.decide over one hash.
--
-- A direct transcription, kept line by line beside its Python twin so that a change there is
-- re-ported here: the controller is qconnect_async._ratecontrol.RateController (its methods
-- below keep their Python names), slow start and schedule are SharedBucket's. The constants
-- come in ARGV from a RateController instance: they are declared once, in Python.
--
-- KEYS[1]  the hash (its name carries a {tag}: one hash slot, Redis Cluster works)
-- ARGV[1]  now: "" takes the server's TIME (always, but in the differential test)
-- ARGV[2..16]  RateController: beta, recut, scale, hold, doubling, quiet, min_rate, tau,
--              min_span, unmeasured_rate, probe_requests, settle, max_k, sporadic,
--              probe_gain (_sharedbucket.CONTROLLER_CONSTANTS)
-- ARGV[17..21] SharedBucket: burst, start_rate, start_doubling, horizon, _START_DOUBLINGS
-- ARGV[22] the hash's time to live, ms (every write renews it: unused keys expire)
-- ARGV[23] the channel a cut is published on ("{now} {rate}"); "": none
-- ARGV[24] "1": reserve a send slot; "2": the same for a send whose booking a cut voided
--          (not counted again in `sends`); "0": only report outcomes
-- ARGV[25] accepted: answers that were not throttles since the member's last call
-- ARGV[26..] the sent_at (decision time) of each throttled send since then
-- Returns {now, wait, rate, cut, granted} as strings (Redis would truncate Lua numbers).

if redis.replicate_commands then
  redis.replicate_commands() -- TIME before writes (the default since Redis 5)
end

local INF = math.huge
local key = KEYS[1]

local now
if ARGV[1] ~= "" then
  now = tonumber(ARGV[1])
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local beta = tonumber(ARGV[2])
local recut = tonumber(ARGV[3])
local scale = tonumber(ARGV[4])
local hold_ = tonumber(ARGV[5]) -- Python's self.hold (rate's local `hold` is max(hold, k))
local doubling = tonumber(ARGV[6])
local quiet = tonumber(ARGV[7])
local min_rate = tonumber(ARGV[8])
local tau = tonumber(ARGV[9])
local min_span = tonumber(ARGV[10])
local unmeasured_rate = tonumber(ARGV[11])
local probe_requests = tonumber(ARGV[12])
local settle = tonumber(ARGV[13])
local max_k = tonumber(ARGV[14])
local sporadic = tonumber(ARGV[15])
local probe_gain = tonumber(ARGV[16]) or INF -- "inf": no cap (whether Lua parses it or not)
local burst = tonumber(ARGV[17])
local start_rate = tonumber(ARGV[18])
local start_doubling = tonumber(ARGV[19])
local horizon = tonumber(ARGV[20])
local start_doublings = tonumber(ARGV[21])
local ttl_ms = tonumber(ARGV[22])
local channel = ARGV[23]
local acquire = ARGV[24] ~= "0"
local rebook = ARGV[24] == "2"
local accepted = tonumber(ARGV[25])
local FIRST_THROTTLE = 26

-- The state. An absent field is its Python default; infinities are never stored.
local s = {}
local raw = redis.call("HGETALL", key)
for i = 1, #raw, 2 do
  s[raw[i]] = tonumber(raw[i + 1])
end
local function get(name, default)
  local v = s[name]
  if v == nil then return default end
  return v
end
local enabled = get("enabled", 0) == 1
local halved = get("halved", 0) == 1
local w_max = get("w_max", 0)
local k = get("k", 0)
local plateau = get("plateau", 0)
local cut_at = get("cut_at", -INF)
local acc_value = get("acc_value", 0)
local acc_count = get("acc_count", 0)
local burst_seen = get("burst_seen", 0)
local acc_at = get("acc_at", -INF)
local acc_start = get("acc_start", INF)
local thr_value = get("thr_value", 0)
local thr_at = get("thr_at", -INF)
local seen_value = get("seen_value", 0)
local seen_at = get("seen_at", -INF)
local tat = get("tat", -INF)
local interval = get("interval", 0)
local start_at = get("start_at", 0)
local start_from = s["start_from"] -- nil: a new key
local sends = get("sends", 0)
local cuts = get("cuts", 0)

-- _decay: the weight left after `elapsed` seconds (0 for `elapsed` infinite)
local function decay(elapsed)
  return math.exp(-elapsed / tau)
end

-- math.cbrt (Lua 5.1 has none): pow, then one Newton step towards the rounded cube root;
-- the base is never negative here
local function cbrt(x)
  if x == 0 then return 0 end
  local y = x ^ (1 / 3)
  return y - (y * y * y - x) / (3 * y * y)
end

-- RateController.accepted_rate
local function accepted_rate(t_now)
  if acc_at == -INF then return 0 end
  local d = decay(t_now - acc_at)
  local warm = 1 - math.exp(-math.max(t_now - acc_start, min_span) / tau)
  return acc_value * d / tau / warm
end

-- RateController.rate
local function rate(t_now)
  if not enabled then return INF end
  local t = t_now - cut_at - k
  local r
  if t < 0 then -- recovering: concave, from beta * w_max at the cut to w_max at k
    r = w_max * (1 - (1 - beta) * (-t / k) ^ 3)
  else -- at w_max for the plateau, then probing: convex, in absolute requests/s
    t = math.max(0, t - plateau)
    r = w_max + scale * t ^ 3
  end
  local hold = math.max(hold_, k)
  if t > hold then
    r = math.max(r, w_max * 2 ^ math.min((t - hold) / doubling, 64))
  end
  if t >= 0 and probe_gain < INF then -- a probe runs at most so far ahead of the answers
    r = math.min(r, math.max(w_max, probe_gain * accepted_rate(t_now)))
  end
  return math.max(min_rate, r)
end

-- RateController.on_accepted
local function on_accepted(t_now)
  if acc_at == -INF then
    acc_start = t_now
    acc_value = 0
  else
    acc_value = acc_value * decay(t_now - acc_at)
  end
  acc_value = acc_value + 1
  acc_count = acc_count + 1
  acc_at = t_now
  seen_value = seen_value * decay(t_now - seen_at) + 1
  seen_at = t_now
end

-- RateController._plateau_for
local function plateau_for(w, share)
  local k_w = math.min(max_k, cbrt(w * (1 - beta) / scale))
  return math.max(0, share * probe_requests / w - k_w - math.max(hold_, k_w) - 10 * doubling)
end

-- RateController._low_rate
local function low_rate(r)
  return plateau_for(r, 0.25) > 0
end

-- RateController.on_throttle
local function on_throttle(t_now, sent_at)
  local throttled = thr_value * decay(t_now - thr_at)
  thr_value, thr_at = throttled + 1, t_now
  if enabled and sent_at - cut_at <= t_now - sent_at then return false end
  local recovering = t_now - cut_at < k
  local ceiling = rate(t_now)
  if not enabled or recovering then
    local seen = seen_value * decay(t_now - seen_at)
    if throttled + 1 < sporadic * (throttled + 1 + seen) then
      return false -- a stray throttle among many answers: no congestion
    end
  end
  local halving = false
  if not enabled then
    -- the first cut: nothing measured, probe from a guess at once
    w_max = math.max(min_rate, math.min(unmeasured_rate, ceiling))
    k = -hold_
    if probe_requests > 0 then
      -- the doubling starts a whole token at the guess after the cut
      k = k + math.min(1 / w_max, 0.5 * hold_)
    end
    plateau = 0
    burst_seen = acc_count -- what the service let through before throttling: its burst
  else
    if recovering then
      ceiling = ceiling * recut
    end
    local n, span = acc_count, t_now - cut_at
    -- our own probe past w_max met the quota
    local probing = k > 0 and span >= k + plateau
    local counted = false
    local measured = ceiling -- nothing accepted since the reset: the ceiling only
    -- nothing accepted since the first cut, or at most one answer since a halving
    halving = probe_requests > 0 and (acc_value <= 0 or (halved and n < 2))
    if halving then
      -- the quota is below what was sent, so half of it
      measured = 0.5 * math.min(ceiling, w_max)
    elseif acc_value > 0 then
      measured = accepted_rate(t_now)
    end
    if span < tau and not halving and acc_value > 0 and low_rate(measured) then
      -- a low rate, a few answers since the last cut: within half an answer of (n + 0.5) / span
      measured = math.max(measured, (n + 0.5) / span)
    end
    -- the cycle's count: began and ended with the service's bucket empty
    local count = 0
    if probing and n > 0 then count = (n - 0.5) / span end
    -- met near w_max (the cubic probe), or a count that kept what was not sent
    local near = ceiling <= 2 * w_max or count >= w_max or plateau > 0
    local found = probe_requests > 0 and count > 0 and near and plateau_for(count, 1) > 0
    if found then
      -- a lower bound of the quota: what held through the last plateau, what was accepted
      -- less the burst the probe drained, the count
      local held = 0
      if plateau > 0 then held = w_max end
      local lower = math.max(measured - burst_seen / tau, settle * count)
      measured = math.max(held, lower)
      counted = n >= probe_requests / 8
    end
    w_max = math.max(min_rate, math.min(measured, ceiling))
    k = math.min(cbrt(w_max * (1 - beta) / scale), max_k)
    -- after our own probe's cut: a plateau of probe_requests (a quarter while the level
    -- is a guess); after a halving with nothing accepted: a quarter; else none
    if found then
      local share = 0.25
      if counted then share = 1 end
      plateau = plateau_for(w_max, share)
    elseif halving then
      plateau = plateau_for(w_max, 0.25)
      if halved and n > 0 then
        -- halved again after an answer: over before what is not sent fills the service's bucket
        plateau = math.min(plateau, math.max(0, burst_seen / w_max - k))
      end
    else
      plateau = 0
    end
  end
  if not enabled then
    -- the first cut: from now on, what is accepted is the service's rate
    local start = t_now
    if probe_requests > 0 then start = t_now + k + hold_ end
    acc_value, acc_at, acc_start = 0, t_now, start
    halved = false
  else
    halved = halving
  end
  cut_at = t_now
  acc_count = 0
  enabled = true
  return true
end

-- RateController.on_quiet
local function on_quiet(t_now)
  if enabled and t_now - cut_at - plateau > quiet then
    enabled = false
  end
end

-- SharedBucket.allowed
local function allowed(t_now)
  if enabled then return rate(t_now) end
  if start_from ~= nil and start_from ~= 0 then
    local doublings = (t_now - start_at) / start_doubling
    if doublings < start_doublings then
      return start_from * 2 ^ doublings
    end
  end
  return INF
end

-- SharedBucket.decide
if start_from == nil then
  start_from = start_rate
  start_at = now
end
on_quiet(now)
for _ = 1, accepted do
  on_accepted(now)
end
local cut = false
for i = FIRST_THROTTLE, #ARGV do
  if on_throttle(now, tonumber(ARGV[i])) then
    cut = true
    cuts = cuts + 1
    start_from = 0
  end
end
-- SharedBucket._void_bookings
if cut then
  local spacing = 1 / allowed(now)
  tat = now + burst * spacing
  interval = spacing
end
local wait = 0
local granted = true
if acquire then
  local r = allowed(now)
  if r == INF then
    if not rebook then sends = sends + 1 end
    tat = now
    interval = 0
  else
    local spacing = 1 / r -- Python's local `interval`
    local head = now
    if tat > now then
      head = now + (tat - now) * (spacing / interval)
    end
    local slot = math.max(now, head - (burst - 1) * spacing)
    wait = slot - now
    if wait > horizon then
      granted = false
      wait = math.min(horizon, wait - horizon)
    else
      if not rebook then sends = sends + 1 end
      tat = head + spacing
      interval = spacing
    end
  end
end

-- Write the state back (finite fields only) and renew the time to live.
local function num(x) return string.format("%.17g", x) end
local fields = {
  enabled = enabled and 1 or 0, halved = halved and 1 or 0, w_max = w_max, k = k,
  plateau = plateau, cut_at = cut_at,
  acc_value = acc_value, acc_count = acc_count, burst_seen = burst_seen,
  acc_at = acc_at, acc_start = acc_start, thr_value = thr_value,
  thr_at = thr_at, seen_value = seen_value, seen_at = seen_at, tat = tat, interval = interval,
  start_at = start_at, start_from = start_from, sends = sends, cuts = cuts,
}
local args = {}
for name, value in pairs(fields) do
  if value > -INF and value < INF then
    args[#args + 1] = name
    args[#args + 1] = num(value)
  end
end
redis.call("HSET", key, unpack(args))
redis.call("PEXPIRE", key, ttl_ms)
-- A cut reaches the members' booked sends at once (they re-space their slots), not at their
-- next call: the fleet's bookings made at the old rate would otherwise leave at it.
if cut and channel ~= "" then
  redis.call("PUBLISH", channel, num(now) .. " " .. num(allowed(now)))
end

return {num(now), num(wait), num(allowed(now)), cut and "1" or "0", granted and "1" or "0"}
