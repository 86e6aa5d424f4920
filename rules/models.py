"""Operations rules: a trigger, conditions over order fields, a fixed list of safe actions."""
