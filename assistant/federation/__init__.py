"""金融盾: one mule model trained across banks, each bank's ledger staying in the bank.

``model`` the model that federates (a small network over the product's features),
``aggregate`` clipped federated averaging and the checks on every bank's update,
``apps`` the Flower ServerApp / ClientApp pair, ``processes`` the SuperLink and SuperNodes
as processes, ``split`` a ledger cut into banks' views (the evaluation and the demo).
"""
