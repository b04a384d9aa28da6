"""``kubectl flagman``: the release-control plugin (``kubectl-flagman``) for Flagman and Flagger Canaries.

It talks to the API server with the user's kubeconfig and never to the controller: actions are
annotations on the Canary (:mod:`controller.api.requests`) that the controller honours at its next tick.
It imports only :mod:`controller.api` of the controller (an import-linter contract holds it).
"""
