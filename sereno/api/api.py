from ninja import NinjaAPI

api = NinjaAPI(title="Sereno API", version="1", urls_namespace="api")


@api.get("/health", auth=None, tags=["public"])
def health(request):
    return {"status": "ok"}
