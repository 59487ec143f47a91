from django.urls import path

from accounts import views
from infra_automation.views import coming_soon

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]

# Users and settings pages arrive with the audit/users issue (#6).
urlpatterns += [
    path("users/", coming_soon, {"title": "Users", "issue": 6}, name="user_list"),
    path("settings/", coming_soon, {"title": "Settings", "issue": 6}, name="settings"),
]
