app_name = "crowdmap"
urlpatterns = []
