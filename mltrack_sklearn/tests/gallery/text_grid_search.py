"""Text classification: a TF-IDF and linear classifier pipeline, tuned by a randomized search.

The shape of scikit-learn's gallery example "Sample pipeline for text feature extraction and evaluation".
The documents ship with scikit-learn: the docstrings of its estimators, labelled by the module they come from.
"""

import inspect

import sklearn.ensemble
import sklearn.linear_model
import sklearn.preprocessing
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import RandomizedSearchCV, train_test_split
from sklearn.pipeline import Pipeline

documents, labels = [], []
for module in (sklearn.ensemble, sklearn.linear_model, sklearn.preprocessing):
    for name in sorted(module.__all__):
        doc = inspect.getdoc(getattr(module, name))
        if doc:
            documents.append(doc)
            labels.append(module.__name__.rpartition(".")[2])

data_train, data_test, target_train, target_test = train_test_split(
    documents, labels, test_size=0.3, random_state=1, stratify=labels
)
pipeline = Pipeline([("vect", TfidfVectorizer()), ("clf", SGDClassifier(random_state=0))])
parameter_grid = {
    "vect__max_df": (0.5, 0.8, 1.0),
    "vect__ngram_range": ((1, 1), (1, 2)),
    "clf__alpha": (1e-5, 1e-4, 1e-3),
}
random_search = RandomizedSearchCV(pipeline, parameter_grid, n_iter=4, cv=3, random_state=0)
random_search.fit(data_train, target_train)
print("Best parameters:", random_search.best_params_)
print(f"Accuracy on the test set: {accuracy_score(target_test, random_search.predict(data_test)):.3f}")
