"""Nested versus non-nested cross-validation of an SVC on iris.

The shape of scikit-learn's gallery example "Nested versus non-nested cross-validation" (one trial).
"""

from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.svm import SVC

X_iris, y_iris = load_iris(return_X_y=True)
p_grid = {"C": [1, 10, 100], "gamma": [0.01, 0.1]}
svm = SVC(kernel="rbf")
inner_cv = KFold(n_splits=4, shuffle=True, random_state=0)
outer_cv = KFold(n_splits=4, shuffle=True, random_state=0)

clf = GridSearchCV(estimator=svm, param_grid=p_grid, cv=inner_cv)
clf.fit(X_iris, y_iris)
non_nested_score = clf.best_score_
nested_score = cross_val_score(clf, X=X_iris, y=y_iris, cv=outer_cv)
print(f"non-nested {non_nested_score:.3f}, nested {nested_score.mean():.3f}")
