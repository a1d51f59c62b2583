"""Statistics over stored items: paired deltas with variance-components intervals and tests (new items
and new seeds), attribution, headline averages, power and planning, published tables, the mechanism
view. `arms` is the entry point; `variance` the model behind every interval and test; `power` plans
with it; `published` handles tables without items; `panel` is the input boundary.
"""
