-- bench/http/post.lua - wrk script: POST a result batch of about 1 KB
local rec = '{"seq":1,"time":"2026-01-01T00:00:00.000Z","service":"dns","address":"198.18.255.53",' ..
  '"family":4,"target":"anycast","instance":"site-a","identity":"s1.lab","identity_source":"nsid",' ..
  '"outcome":"ok","rcode":"NOERROR","rtt_ms":1.25}'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"results":[' .. rec .. ',' .. rec .. ',' .. rec .. ',' .. rec .. ']}'
