def rules_defaults_install_if_empty(**kwargs):
    return None
