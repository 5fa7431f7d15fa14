"""The job list of the media pipeline: an account's, under its credential (`X-API-KEY` or a bearer token): the
jobs its channels and slates asked for. A job shared with another account (the same creative or slate source)
is listed to both; its record names no account, so neither learns who else uses it. What every account's jobs
add up to is the operator's, in `/metrics`.
"""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.web.responses import JSONResponse
from proxy.web.state import control_of, service_of


async def jobs(request: Request) -> Response:
    principal = await control_of(request).by_either(request.headers, write=False)
    own = service_of(request).jobs.of_account(principal.account_id)
    return JSONResponse({"counts": dict(Counter(job.state for job in own)), "jobs": [job.as_dict() for job in own]})


routes = [Route("/v1/ssai/jobs", jobs, methods=["GET"])]
