"""TF-IDF by hand: Tokenizer, HashingTF and IDF applied one by one, then a logistic regression, evaluated.

The shape of Spark's example ``tf_idf_example.py`` (examples/src/main/python/ml), continued with a
classifier trained on the features and evaluated on held-out rows. The sentences are generated here.
"""

import random

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import IDF, HashingTF, Tokenizer
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[2]").appName("TfIdfByHand").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")

rng = random.Random(7)
happy = ["great", "love", "fast", "friendly", "helpful", "spark"]
sad = ["slow", "broken", "late", "rude", "refund", "again"]
common = ["the", "service", "was", "and", "order", "app"]
rows = []
for index in range(120):
    label = float(index % 2)
    words = rng.sample(common, 3) + rng.sample(happy if label else sad, 1) + rng.sample(happy + sad, 2)
    rng.shuffle(words)
    rows.append((label, " ".join(words)))
sentenceData = spark.createDataFrame(rows, ["label", "sentence"])

tokenizer = Tokenizer(inputCol="sentence", outputCol="words")
wordsData = tokenizer.transform(sentenceData)

hashingTF = HashingTF(inputCol="words", outputCol="rawFeatures", numFeatures=64)
featurizedData = hashingTF.transform(wordsData)

idf = IDF(inputCol="rawFeatures", outputCol="features")
idfModel = idf.fit(featurizedData)
rescaledData = idfModel.transform(featurizedData)
rescaledData.select("label", "features").show(3, truncate=60)

training, test = rescaledData.randomSplit([0.75, 0.25], seed=42)
lr = LogisticRegression(maxIter=10, regParam=0.01)
lrModel = lr.fit(training)

predictions = lrModel.transform(test)
evaluator = BinaryClassificationEvaluator(metricName="areaUnderROC")
print(f"Test areaUnderROC = {evaluator.evaluate(predictions):g}")

spark.stop()
