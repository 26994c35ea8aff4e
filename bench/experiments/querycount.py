"""Counts the SQL statements each request runs and reports them in an ``X-Bench-Queries``
response header (``total/writes``); bench/signin.py prints them per request."""

from django.db import connection

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counts = [0, 0]

        def count(execute, sql, params, many, context):
            counts[0] += 1
            if sql.lstrip().upper().startswith(WRITES):
                counts[1] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response["X-Bench-Queries"] = f"{counts[0]}/{counts[1]}"
        return response
