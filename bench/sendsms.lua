-- wrk script: POST /cgi-bin/sendsms the way Sereno's Kannel transport does (the text as the
-- body, everything else X-Kannel-* headers), to 1,000 numbers in turn, with delivery
-- reports to SERENO_WRK_DLR_BASE when it is set. Used by bench/sms.py for Kannel's outbound
-- ceilings and the replies of its inbound-with-reply ceiling: wrk is C, so the ceiling is the
-- gateway's and not the client's.
local user = os.getenv("SERENO_WRK_USER")
local password = os.getenv("SERENO_WRK_PASSWORD")
local from = os.getenv("SERENO_WRK_FROM")
local dlr_base = os.getenv("SERENO_WRK_DLR_BASE") or ""
local text = os.getenv("SERENO_WRK_TEXT")
local dlr_mask = os.getenv("SERENO_WRK_DLR_MASK") or "19"
local counter = 0

request = function()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "text/plain; charset=UTF-8",
    ["X-Kannel-Username"] = user,
    ["X-Kannel-Password"] = password,
    ["X-Kannel-From"] = from,
    ["X-Kannel-To"] = string.format("+5049%07d", counter % 1000),
  }
  if dlr_base ~= "" then
    headers["X-Kannel-DLR-Mask"] = dlr_mask
    headers["X-Kannel-DLR-Url"] = dlr_base .. "/dlr/?id=" .. counter .. "&event=%d"
  end
  return wrk.format("POST", nil, headers, string.format(text, counter % 100000))
end

-- SERENO_WRK_LIMIT: stop after that many answers (a count, not a duration).
local limit = tonumber(os.getenv("SERENO_WRK_LIMIT") or "0")
local answered = 0
if limit > 0 then
  response = function(status, headers, body)
    answered = answered + 1
    if answered >= limit then
      wrk.thread:stop()
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status))
end
