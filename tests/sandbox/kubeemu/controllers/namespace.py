"""The ServiceAccounts controller: every namespace gets its `default` ServiceAccount
(kubernetes `pkg/controller/serviceaccount/serviceaccounts_controller.go`)."""

from .base import NS, SA, Controller


class ServiceAccountsController(Controller):
    def sync(self):
        c = self.cluster
        for ns in c.items(NS):
            name = ns["metadata"]["name"]
            if c.find(SA, name, "default") is None:
                c.create(SA, name, {"metadata": {"name": "default"}})
