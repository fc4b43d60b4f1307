"""Spark's train-validation split example, on 300 rows of linear data generated here (no file to read)."""

import random

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import SparkSession

if __name__ == "__main__":
    spark = SparkSession.builder.appName("TrainValidationSplit").getOrCreate()

    # Prepare training and test data: label = 3 x0 - 2 x1 + 0.5 x2 + 4 + noise.
    generator = random.Random(0)
    rows = []
    for _ in range(300):
        x = [generator.uniform(-1, 1) for _ in range(3)]
        rows.append((Vectors.dense(x), 3 * x[0] - 2 * x[1] + 0.5 * x[2] + 4 + generator.gauss(0, 0.3)))
    data = spark.createDataFrame(rows, ["features", "label"])
    train, test = data.randomSplit([0.9, 0.1], seed=12345)

    lr = LinearRegression(maxIter=10)

    # We use a ParamGridBuilder to construct a grid of parameters to search over.
    # TrainValidationSplit will try all combinations of values and determine best model using the evaluator.
    paramGrid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.1, 0.01])
        .addGrid(lr.fitIntercept, [False, True])
        .addGrid(lr.elasticNetParam, [0.0, 0.5, 1.0])
        .build()
    )

    # In this case the estimator is simply the linear regression.
    # A TrainValidationSplit requires an Estimator, a set of Estimator ParamMaps, and an Evaluator.
    tvs = TrainValidationSplit(
        estimator=lr,
        estimatorParamMaps=paramGrid,
        evaluator=RegressionEvaluator(),
        # 80% of the data will be used for training, 20% for validation.
        trainRatio=0.8,
        seed=42,
    )

    # Run TrainValidationSplit, and choose the best set of parameters.
    model = tvs.fit(train)

    # Make predictions on test data. model is the model with combination of parameters that performed best.
    model.transform(test).select("label", "prediction").show(5)
    print("validation rmse per setting:", [round(float(metric), 4) for metric in model.validationMetrics])

    spark.stop()
