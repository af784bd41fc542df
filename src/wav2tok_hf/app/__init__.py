"""The wav2tok web app (``python app.py`` / ``wav2tok app``): hum to search, find where a word was said, see the
tokens. The logic lives in importable, tested modules; :mod:`.ui` only wires it into a Gradio page.

* :mod:`.inputs`: checks on a recording (decodable, length, silence) with messages for people.
* :mod:`.catalog`: an index plus titles and audio; the cached Essen catalog and folder catalogs.
* :mod:`.search`: tokenise, rank, align the best match (:class:`.search.Searcher`).
* :mod:`.alignment`: token alignment and its HTML.
* :mod:`.plots`: the token picture.
* :mod:`.options`: the command-line options; :mod:`.ui`: the Gradio page.

Nothing is imported here, so that ``wav2tok`` can register the ``app`` command without loading the app.
"""
