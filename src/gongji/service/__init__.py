"""The HTTP service hospitals and pharmacies call: the national platform's transactions on
one endpoint, a plain REST API beside them, and the bureau's own routes. `gongji serve`."""
