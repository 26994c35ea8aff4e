from django.urls import path

from watchword.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("myaccount", views.myaccount, name="myaccount"),
    path("myaccount/password", views.change_password, name="change_password"),
    path("mysecurityinfo", views.securityinfo, name="securityinfo"),
    path("mysecurityinfo/add/authenticator", views.add_authenticator, name="add_authenticator"),
    path("mysecurityinfo/setup/events", views.setup_events, name="setup_events"),
    path("mysecurityinfo/default", views.change_default, name="change_default"),
    path("mysecurityinfo/methods/<int:method_id>/delete", views.delete, name="delete"),
]
