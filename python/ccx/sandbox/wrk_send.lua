-- wrk script: POST the otp_code template send to the sandbox (closed-loop peak throughput).
-- wrk -t1 -c64 -d10s -s python/ccx/sandbox/wrk_send.lua http://127.0.0.1:8090
wrk.method = "POST"
wrk.path = "/v23.0/106540352242922/messages"
wrk.headers["Authorization"] = "Bearer sandbox"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messaging_product":"whatsapp","recipient_type":"individual","to":"14085551234",'
  .. '"type":"template","template":{"name":"otp_code","language":{"code":"en_US"},'
  .. '"components":[{"type":"body","parameters":[{"type":"text","text":"123456"}]},'
  .. '{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"123456"}]}]},'
  .. '"biz_opaque_callback_data":"bench"}'

done = function(summary, latency, requests)
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("p%d=%.2fms ", p, latency:percentile(p) / 1000))
  end
  io.write("\n")
end
