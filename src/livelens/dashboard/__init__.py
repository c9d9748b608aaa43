"""The supervisor dashboard served by ``livelens serve`` at ``/`` (docs/dashboard.md).

Modules: :mod:`.session` (signed session cookies and CSRF tokens), :mod:`.cards` (a contact's segments
folded into the wall's card: pure), :mod:`.wall` (the live wall's feed, woken through the database),
:mod:`.history` (export and history search), :mod:`.routes` (the pages and the cookie-authenticated data
endpoints). The assets in ``static/`` are plain HTML, CSS and JavaScript shipped inside the package: no
CDN, no build step.
"""
