-- pipeline.lua: wrk sends DEPTH requests (default 16) back to back on each
-- connection and counts every response.
--   wrk -s tests/bench/pipeline.lua URL -- 16
local req

init = function(args)
	local depth = tonumber(args[1]) or 16
	local r = {}
	for i = 1, depth do
		r[i] = wrk.format(nil, wrk.path)
	end
	req = table.concat(r)
end

request = function()
	return req
end
