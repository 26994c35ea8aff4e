from django.urls import path

from watchword.signin import campaign, views

app_name = "signin"

urlpatterns = [
    path("signin", views.start, name="start"),
    path("signin/password", views.password, name="password"),
    path("signin/password/change", views.change_password, name="change_password"),
    path("signin/more-information", views.interrupt, name="interrupt"),
    path("signin/register", views.register, name="register"),
    path("signin/verify", views.verify, name="verify"),
    path("signin/push", views.push, name="push"),
    path("signin/push/events", views.push_events, name="push_events"),
    path("signin/phone", views.phone_step, name="phone"),
    path("signin/phone/events", views.phone_events, name="phone_events"),
    path("signin/other", views.other, name="other"),
    path("signin/reverify", views.reverify, name="reverify"),
    path("signin/step-up", views.step_up, name="step_up"),
    path("signin/cancel", views.cancel, name="cancel"),
    path("signin/campaign", campaign.campaign_view, name="campaign"),
    path("signout", views.signout, name="signout"),
]
