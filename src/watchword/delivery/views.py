from django.shortcuts import render

from watchword.delivery.services import stored_mail
from watchword.signin.guards import admin_required


@admin_required
def mail_folder(request):
    return render(request, "delivery/mail.html", {"messages_sent": stored_mail()})
