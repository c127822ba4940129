-- wrk script for bench/intake.py. SERENO_WRK_MODE=report: POST /api/v1/reports with varied
-- bodies (random point in Honduras, category, date in the last 30 days); otherwise the URL as
-- given. Prints one machine-readable summary line at the end.
local categories = {"robo-asalto", "extorsion", "homicidio", "amenazas", "sicariato",
                    "corrupcion", "violencia-domestica", "desaparicion", "abuso-policial"}
local precisions = {"exact", "place"}
local mode = os.getenv("SERENO_WRK_MODE") or "get"

if mode == "report" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    local body = string.format(
      '{"title": "Asalto a mano armada en la colonia", ' ..
      '"description": "Dos hombres en motocicleta asaltaron a una persona a las 8 de la ' ..
      'noche. Se llevaron su teléfono y dinero.", "categories": ["%s"], ' ..
      '"occurred_at": "%s", "latitude": %.5f, "longitude": %.5f, "location_precision": "%s"}',
      categories[math.random(#categories)],
      os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(300, 30 * 86400)),
      13.2 + math.random() * 2.7, -89.2 + math.random() * 5.7,
      precisions[math.random(#precisions)])
    return wrk.format(nil, "/api/v1/reports", nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %.3f %.3f %.3f\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
