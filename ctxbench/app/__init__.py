"""What only the Streamlit app (app.py) uses: its queries, the diff view and the image view.
"""
