"""Servers pages: list, create/edit (HTMX modal or plain page), details with live metrics."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from core.access import admin_required
from core.htmx import redirect_after_post, render_partial_or_page
from inventory import metrics, selectors, services, ssh
from inventory.charts import metrics_chart
from inventory.crypto import CredentialsKeyError
from inventory.forms import CredentialForm, ServerForm, ServerGroupForm
from inventory.models import Credential, Server, ServerGroup

SERVERS_PER_PAGE = 25


def _writable_server(request, pk):
    """The server an admin may change: 404 if missing, 403 for a local server unless the
    user is a super_admin (a local server runs playbooks on the controller itself)."""
    server = get_object_or_404(Server, pk=pk)
    if server.is_local and not request.user.is_super_admin:
        raise PermissionDenied
    return server


@vary_on_headers("HX-Request")
def server_list(request):
    q = request.GET.get("q", "").strip()[:255]
    status = request.GET.get("status", "all")
    sort = request.GET.get("sort", "hostname")
    groups = selectors.group_choices()
    group = selectors.group_from_param(request.GET.get("group"), groups)
    servers = selectors.server_list(q=q, status=status, sort=sort, group=group)
    context = {
        "groups": groups,
        "group": group,
        "page": Paginator(servers, SERVERS_PER_PAGE).get_page(request.GET.get("page")),
        "q": q,
        "status": status,
        "sort": sort if sort in selectors.SERVER_SORTS else "hostname",
    }
    return render_partial_or_page(
        request, "inventory/partials/server_table.html", "inventory/server_list.html", context
    )


def _server_form(request, server=None):
    form = ServerForm(request.POST or None, instance=server, user=request.user)
    if request.method == "POST" and form.is_valid():
        if server is None:
            server = services.server_create(actor=request.user, **form.cleaned_data)
        else:
            services.server_update(actor=request.user, server=server, **form.cleaned_data)
        messages.success(request, f"Server {server.hostname} saved.")
        return redirect_after_post(request, reverse("server_list"))
    context = {"form": form, "server": server, "keys": form.available_keys()}
    return render_partial_or_page(
        request, "inventory/partials/server_form.html", "inventory/server_form.html", context
    )


@admin_required
def server_create(request):
    return _server_form(request)


@admin_required
def server_edit(request, pk):
    return _server_form(request, _writable_server(request, pk))


@vary_on_headers("HX-Request")
def server_detail(request, pk):
    server = get_object_or_404(Server, pk=pk)
    context = {
        "server": server,
        "chart": metrics_chart(server, request.GET.get("range")),
        "host_keys": ssh.known_host_fingerprints(server),
    }
    return render_partial_or_page(
        request, "inventory/partials/server_modal.html", "inventory/server_detail.html", context
    )


@admin_required
@require_POST
def server_forget_host_key(request, pk):
    server = _writable_server(request, pk)
    removed = services.server_forget_host_key(actor=request.user, server=server)
    messages.success(
        request,
        f"Host key of {server.hostname} forgotten ({removed} line(s)): the next connection "
        "records the key the server presents.",
    )
    return redirect_after_post(request, reverse("server_detail", args=[pk]))


def server_metrics(request, pk):
    """The live metrics block, polled every 10 s while the details are open."""
    server = get_object_or_404(Server, pk=pk)
    return render(request, "inventory/partials/server_metrics.html", {"server": server})


def server_chart(request, pk):
    server = get_object_or_404(Server, pk=pk)
    chart = metrics_chart(server, request.GET.get("range"))
    return render(
        request, "inventory/partials/server_chart.html", {"server": server, "chart": chart}
    )


@require_POST
def server_refresh(request, pk):
    """Collect now. Any logged-in user may: it only reads the server's usage."""
    server = get_object_or_404(Server, pk=pk)
    metrics.collect(server)
    if request.htmx:
        return render(request, "inventory/partials/server_metrics.html", {"server": server})
    return redirect("server_detail", pk=pk)


@admin_required
@require_POST
def server_test(request, pk):
    server = _writable_server(request, pk)
    ok, message = services.server_test_connection(server=server)
    if request.htmx:
        return render(
            request, "inventory/partials/server_test_result.html", {"ok": ok, "message": message}
        )
    (messages.success if ok else messages.error)(request, message)
    return redirect("server_detail", pk=pk)


@admin_required
@require_POST
def server_toggle_active(request, pk):
    server = services.server_toggle_active(actor=request.user, server=_writable_server(request, pk))
    state = "activated" if server.is_active else "deactivated"
    messages.success(request, f"Server {server.hostname} {state}.")
    return redirect_after_post(request, reverse("server_list"))


@admin_required
def server_delete(request, pk):
    server = _writable_server(request, pk)
    if request.method != "POST":
        return render(request, "inventory/server_confirm_delete.html", {"server": server})
    try:
        services.server_delete(actor=request.user, server=server)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Server {server.hostname} deleted.")
    return redirect_after_post(request, reverse("server_list"))


# --- credentials (admins only: users pick them by name on the forms that use them) ---------


@admin_required
def credential_list(request):
    credentials = Credential.objects.select_related("created_by")
    return render(request, "inventory/credential_list.html", {"credentials": credentials})


def _credential_form(request, credential=None):
    form = CredentialForm(request.POST or None, request.FILES or None, instance=credential)
    if request.method == "POST" and form.is_valid():
        try:
            credential = services.credential_save(
                actor=request.user,
                credential=credential,
                fields=form.plain_fields(),
                secrets=form.secrets(),
                generate_key=form.cleaned_data["generate_key"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        except CredentialsKeyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Credential {credential.name} saved.")
            return redirect("credential_edit", pk=credential.pk)
    context = {"form": form, "credential": credential}
    return render(request, "inventory/credential_form.html", context)


@admin_required
def credential_create(request):
    return _credential_form(request)


@admin_required
def credential_edit(request, pk):
    return _credential_form(request, get_object_or_404(Credential, pk=pk))


@admin_required
def credential_delete(request, pk):
    credential = get_object_or_404(Credential, pk=pk)
    if request.method != "POST":
        context = {"credential": credential, "uses": services.credential_users(credential)}
        return render(request, "inventory/credential_confirm_delete.html", context)
    try:
        services.credential_delete(actor=request.user, credential=credential)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("credential_edit", pk=pk)
    messages.success(request, f"Credential {credential.name} deleted.")
    return redirect("credential_list")
# --- groups (admins manage them; everyone sees them on the servers list's filter) ----------


@admin_required
def group_list(request):
    return render(request, "inventory/group_list.html", {"groups": selectors.group_list()})


def _group_form(request, group=None):
    form = ServerGroupForm(request.POST or None, user=request.user, group=group)
    if request.method == "POST" and form.is_valid():
        try:
            if group is None:
                group = services.group_create(actor=request.user, **form.cleaned_data)
            else:
                services.group_update(actor=request.user, group=group, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Group {group.name} saved.")
            return redirect("group_list")
    return render(request, "inventory/group_form.html", {"form": form, "group": group})


@admin_required
def group_create(request):
    return _group_form(request)


@admin_required
def group_edit(request, pk):
    return _group_form(request, get_object_or_404(ServerGroup, pk=pk))


@admin_required
def group_delete(request, pk):
    group = get_object_or_404(ServerGroup, pk=pk)
    if request.method != "POST":
        return render(request, "inventory/group_confirm_delete.html", {"group": group})
    services.group_delete(actor=request.user, group=group)
    messages.success(request, f"Group {group.name} deleted.")
    return redirect_after_post(request, reverse("group_list"))
