"""Random forest with a label indexer fitted on all the data, a random split, and an evaluation.

The shape of Spark's example ``random_forest_classifier_example.py`` (examples/src/main/python/ml):
the label indexer and the feature indexer are fitted on the whole DataFrame before it is split, as
that example does. The data (three classes, four measurements and a discrete one) is generated here.
"""

import random

from pyspark.ml import Pipeline
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import IndexToString, StringIndexer, VectorAssembler, VectorIndexer
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[2]").appName("RandomForestClassifierExample").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")

rng = random.Random(3)
species = ["setosa", "versicolor", "virginica"]
rows = [
    (
        species[kind],
        rng.gauss(5 + kind / 2, 0.8),
        rng.gauss(3 - kind / 4, 0.5),
        rng.gauss(1.5 + kind, 0.9),
        float(kind + rng.randint(0, 1)),
    )
    for index in range(180)
    for kind in [index % 3]
]
raw = spark.createDataFrame(rows, "species string, sepal double, width double, petal double, stage double")
data = VectorAssembler(inputCols=["sepal", "width", "petal", "stage"], outputCol="features").transform(raw)

# Index labels, adding metadata to the label column.
# Fit on whole dataset to include all labels in index.
labelIndexer = StringIndexer(inputCol="species", outputCol="indexedLabel").fit(data)

# Automatically identify categorical features, and index them.
# Set maxCategories so features with > 4 distinct values are treated as continuous.
featureIndexer = VectorIndexer(inputCol="features", outputCol="indexedFeatures", maxCategories=4).fit(data)

# Split the data into training and test sets (30% held out for testing)
(trainingData, testData) = data.randomSplit([0.7, 0.3], seed=11)

# Train a RandomForest model.
rf = RandomForestClassifier(labelCol="indexedLabel", featuresCol="indexedFeatures", numTrees=10, seed=5)

# Convert indexed labels back to original labels.
labelConverter = IndexToString(inputCol="prediction", outputCol="predictedLabel", labels=labelIndexer.labels)

# Chain indexers and forest in a Pipeline
pipeline = Pipeline(stages=[labelIndexer, featureIndexer, rf, labelConverter])

# Train model.  This also runs the indexers.
model = pipeline.fit(trainingData)

# Make predictions.
predictions = model.transform(testData)

# Select example rows to display.
predictions.select("predictedLabel", "species", "features").show(5)

# Select (prediction, true label) and compute test error
evaluator = MulticlassClassificationEvaluator(
    labelCol="indexedLabel", predictionCol="prediction", metricName="accuracy"
)
accuracy = evaluator.evaluate(predictions)
print(f"Test Error = {1.0 - accuracy:g}")

spark.stop()
